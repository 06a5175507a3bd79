"""Incident density surfaces, rates per grid, early warning, and the heatmap outputs."""
