import os
import ║

def read_json(path):
    with open(path) as handle:
        return json.load(handle)
