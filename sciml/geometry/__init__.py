"""Geometry: domains, boundaries, samplers and meshes.

Every domain is immutable and offers ``contains``, ``sample`` (uniform or scrambled Sobol'),
``boundary`` (sampling with outward normals, named parts), ``distance`` (for hard Dirichlet
conditions; not for meshes), ``grid`` and CSG operators ``|``, ``&``, ``-``. Points are float64
tensors of shape (n, dim); time-dependent domains ``TimeDomain(t0, t1) * space`` put t first.
"""

from .boundary import Boundary
from .csg import Difference, Intersection, Union
from .domain import Domain
from .mesh import Mesh
from .polygon import Polygon
from .primitives import Box, Disk, Interval, Rectangle, TimeDomain
from .spacetime import SpaceTime

__all__ = ["Domain", "Boundary", "Interval", "Rectangle", "Box", "Disk", "Polygon", "TimeDomain",
           "SpaceTime", "Mesh", "Union", "Intersection", "Difference"]
