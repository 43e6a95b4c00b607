"""GraphQL floor: strawberry types per domain and the assembled schema."""
