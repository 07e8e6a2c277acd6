"""The demo accounts' names (the server refuses to start in production while any exists)."""

DEMO_USERNAMES = ("admin", "admin2", "catalog", "catalog2", "clerk", "reviewer", "approver", "supervisor",
                  "orgadmin", "citizen", "citizen2", "company", "agent")
DEMO_PASSWORD = "yiwang-demo"
