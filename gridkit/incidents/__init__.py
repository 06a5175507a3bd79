"""Components (部件) and incidents (事件) in their grids: attach, categories, case indicators."""
