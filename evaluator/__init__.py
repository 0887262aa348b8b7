"""regelverk: regional guidelines on distance contacts as versioned, tested policy data."""

from __future__ import annotations

from .errors import Location, PolicyError, Problem
from .running.api import Repository, load_repository

__all__ = ["Location", "PolicyError", "Problem", "Repository", "load_repository"]
__version__ = "0.1.0"
