"""What every GraphQL domain uses: nodes, connections, filters, rights, context, limits."""
