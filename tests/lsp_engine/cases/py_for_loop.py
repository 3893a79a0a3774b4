def count_words(lines):
    counts = {}
    for line in lines:║
    return counts
