"""Customer information: commands, the history every change records, lists and nested loaders."""
