def report(orders):
    total = sum(order.amount for order in orders)
    count = len(orders)
    print(f"Processed {count} orders, total: {║}")
