"""The kit's cast of servers (Person Server, resources, ...) as Starlette apps built from
``aauth_kit`` roles; installed as ``aauth_kit.servers``."""
