"""Test-wide settings: hypothesis without wall-clock deadlines (CI machines are busy)."""

from hypothesis import settings

settings.register_profile("smgwd", deadline=None, print_blob=True)
settings.load_profile("smgwd")
