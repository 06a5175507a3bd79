"""Patrol: street graphs per grid, patrol routes, and GPS track checks."""

from gridkit.patrol.streets import read_streets, streets_for_grids

__all__ = ["read_streets", "streets_for_grids"]
