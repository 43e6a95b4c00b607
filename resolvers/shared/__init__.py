"""What every domain's logic uses: pages and cursors, global IDs, filters, validation."""
