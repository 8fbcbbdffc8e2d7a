/*
 * Image build step (docker/Dockerfile): starts DJL's PyTorch engine once so that DJL downloads the
 * native library of PYTORCH_FLAVOR into DJL_CACHE_DIR. Executors then load it offline.
 */
public final class PrefetchDjlNatives {
    public static void main(String[] args) {
        ai.djl.engine.Engine engine = ai.djl.engine.Engine.getEngine("PyTorch");
        System.out.println("DJL " + engine.getEngineName() + " " + engine.getVersion() + " natives cached");
    }
}
