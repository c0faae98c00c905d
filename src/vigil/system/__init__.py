"""The composition root: wires sources, perception and (as they land) tracking, identification,
governance and storage into one running system. Nothing below this package imports it."""
