public class MathUtils {
    public static int max(int a, int b) {
        ║
    }

    public static int min(int a, int b) {
        return a < b ? a : b;
    }
}
