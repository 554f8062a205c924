"""Live backend: Ray Serve replicas bound to MIG slices (or CPU core shares), an ingress that
routes like the simulator, an open-loop load generator, energy meters and the live controller.

Importing this package does not import Ray or torch; the submodules that need them do.
"""
