class Rectangle:
    def __init__(self, width, height):
        self.width = width
        self.height = height

    def area(self):
        ║

    def perimeter(self):
        return 2 * (self.width + self.height)
