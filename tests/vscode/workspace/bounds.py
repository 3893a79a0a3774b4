def within(value, low, high):
    if value < low:
        return False
    return value <= high
