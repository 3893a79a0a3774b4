import math


def is_prime(n):║


def primes_below(limit):
    return [n for n in range(limit) if is_prime(n)]
