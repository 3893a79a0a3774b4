import csv


def load_rows(path):
    rows = []
    with open(path, newline="") as handle:║
    return rows
