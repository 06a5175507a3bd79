"""Patrol: street graphs per grid, patrol routes, and GPS track checks."""

from gridkit.patrol.network import StreetNetwork, street_network
from gridkit.patrol.postman import Walk, covering_walk, split_walk
from gridkit.patrol.route_outputs import write_routes
from gridkit.patrol.routes import RoutePlan, routes_for_grids
from gridkit.patrol.streets import read_streets, streets_for_grids

__all__ = [
    "RoutePlan",
    "StreetNetwork",
    "Walk",
    "covering_walk",
    "read_streets",
    "routes_for_grids",
    "split_walk",
    "street_network",
    "streets_for_grids",
    "write_routes",
]
