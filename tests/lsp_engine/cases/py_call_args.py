from dataclasses import dataclass


@dataclass
class Employee:
    name: str
    salary: int


def top_earners(employees, count):
    ranked = sorted(employees, key=║)
    return ranked[:count]
