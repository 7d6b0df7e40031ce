"""The standard library of .route files, shipped as package data."""
