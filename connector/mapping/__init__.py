"""Mapping profiles: what an admin edits (YAML data only) and the Mapper the sync engine calls.

`load_profile(path)` reads and checks a profile (every problem at once, with file:line);
`Mapper(object_map)` turns a CRM record into UPM values and back.
"""

from connector.mapping.loader import LoadedProfile, ProfileError, check_profile, load_profile
from connector.mapping.mapper import Mapper, MappingError
from connector.mapping.profile import FieldMap, ObjectMap, Profile

__all__ = ["FieldMap", "LoadedProfile", "Mapper", "MappingError", "ObjectMap", "Profile", "ProfileError", "check_profile", "load_profile"]
