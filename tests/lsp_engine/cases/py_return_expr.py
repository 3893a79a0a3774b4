def celsius_to_fahrenheit(celsius):
    return ║


def fahrenheit_to_celsius(fahrenheit):
    return (fahrenheit - 32) * 5 / 9
