"""Patrol: street graphs per grid, patrol routes, and GPS track checks."""

from gridkit.patrol.coverage import TrackCheck, check_tracks
from gridkit.patrol.network import StreetNetwork, street_network
from gridkit.patrol.postman import Walk, covering_walk, split_walk
from gridkit.patrol.route_outputs import write_routes
from gridkit.patrol.routes import RoutePlan, routes_for_grids
from gridkit.patrol.streets import read_streets, streets_for_grids
from gridkit.patrol.tracks import read_tracks

__all__ = [
    "RoutePlan",
    "StreetNetwork",
    "TrackCheck",
    "Walk",
    "check_tracks",
    "covering_walk",
    "read_streets",
    "read_tracks",
    "routes_for_grids",
    "split_walk",
    "street_network",
    "streets_for_grids",
    "write_routes",
]
