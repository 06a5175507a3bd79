"""Patrol: street graphs per grid, patrol routes, and GPS track checks."""
