"""The HTTP surface: the GraphQL view, its request envelope and answers, middleware, admission
control, OAuth, operator endpoints and GraphiQL."""
