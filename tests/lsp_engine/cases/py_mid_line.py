def clamp(value, low, high):
    if value < low:
        return low
    if value > ║:
        return high
    return value
