"""The GraphQL service: HTTP app, schema, resolvers, console, metrics and exports."""
