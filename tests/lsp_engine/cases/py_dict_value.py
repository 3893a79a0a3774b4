import os

DEFAULT_CONFIG = {
    "host": "localhost",
    "port": ║
    "debug": False,
}
