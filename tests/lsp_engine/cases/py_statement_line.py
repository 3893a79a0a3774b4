def average(values):
    if not values:
        return 0.0
    total = ║
    return total / len(values)
