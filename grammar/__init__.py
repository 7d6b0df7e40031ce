"""The grammar of .route files, shipped as package data (see policy.lark)."""
