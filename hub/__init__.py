"""i罗湖 Hub: one GraphQL schema in front of Luohu district's department systems."""
