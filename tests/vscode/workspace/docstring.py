def moving_average(values, window):
    result = []
    for index in range(len(values) - window + 1):
        chunk = values[index : index + window]
        result.append(sum(chunk) / window)
    return result
