"""Stand-alone imitations of the district's department systems.

Each sub-package is an aiohttp application that behaves like one upstream system, quirks
included, plus the admin surface the real systems lack (``/__admin/stats``,
``/__admin/faults``). Nothing here imports the hub: the hub reaches the mocks only over HTTP.
"""
