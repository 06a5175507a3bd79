"""The ``gridkit`` command: argument parsing and printing only, calling the library.

This folder installs as the package ``gridkit_cli`` (``package_dir`` in setup.cfg), so
its name cannot collide with another distribution's ``cli`` package.
"""
