package io.tandem.inference.hf;

import ai.djl.Device;
import ai.djl.engine.Engine;

/** Starts DJL's PyTorch engine once, with thread counts suited to serving one model per thread. */
public final class Torch {

  private static Engine engine;
  /** Held while libtorch loads (see {@link #awaitLoading}). */
  private static final java.util.concurrent.locks.ReentrantLock LOADING = new java.util.concurrent.locks.ReentrantLock();

  private Torch() {}

  /**
   * The PyTorch engine. The first call fixes PyTorch's thread pools (global and settable only
   * once): one inter-op thread, because a worker drives each model from a single thread, and
   * one intra-op thread per core, because big matmuls are what parallelise. Set the system
   * properties {@code ai.djl.pytorch.num_threads} / {@code num_interop_threads} to override.
   *
   * <p>Launch the JVM with the environment variable {@code OMP_WAIT_POLICY=PASSIVE}: by default
   * OpenMP threads spin after every parallel op, and on a machine whose cores are shared (or
   * busy with the actor system) that cost 6x in decode speed. libgomp reads it only at load.
   */
  public static Engine engine() {
    LOADING.lock();
    try {
      return loaded();
    } finally {
      LOADING.unlock();
    }
  }

  /**
   * Waits, up to {@code max}, for a load of libtorch under way on another thread to end. A process
   * that exits meanwhile (a command that failed on one model while the other's worker loads the
   * engine) runs libtorch's C++ static destructors beside its static initializers: a tester saw a
   * third of such exits abort (status 134, {@code std::runtime_error}) or crash (SIGSEGV in
   * libtorch_cpu.so, the JVM's report on stdout) instead of ending with the error line.
   */
  public static void awaitLoading(java.time.Duration max) {
    try {
      if (LOADING.tryLock(max.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) LOADING.unlock();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static Engine loaded() {
    if (engine == null) {
      if (System.getProperty("ai.djl.pytorch.num_interop_threads") == null) {
        System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
      }
      if (System.getProperty("ai.djl.pytorch.num_threads") == null) {
        System.setProperty(
            "ai.djl.pytorch.num_threads", String.valueOf(Runtime.getRuntime().availableProcessors()));
      }
      try {
        engine = Engine.getEngine("PyTorch");
      } catch (RuntimeException | LinkageError e) {
        // libtorch not unpacked where DJL puts it: said in one line (tester59c).
        NativeLibraries.whyNotLoaded(e).ifPresent(why -> {
          throw new IllegalStateException(why, e);
        });
        throw e;
      }
    }
    return engine;
  }

  /** Per thread, the intra-op thread count set on it (0: the process's), once it has been readied. */
  private static final ThreadLocal<Integer> READIED = new ThreadLocal<>();

  /**
   * Readies the calling thread for forward passes; cheap after the first call.
   *
   * <ul>
   *   <li>{@code threads} intra-op threads for its ops (0: the process's count, one per core).
   *       PyTorch's OpenMP build keeps this count per thread ({@code at::set_num_threads} sets the
   *       calling thread's {@code omp_set_num_threads} and {@code mkl_set_num_threads_local}), so two
   *       workers on one machine can split its cores instead of each running every op on all of them.
   *   <li>The TorchScript graph executor's optimizer off (a thread-local switch in libtorch, on by
   *       default): its profiling executor specializes the {@link TorchScript} methods on input
   *       shapes, and a decode's cache length changes every step; with it on, a float16 decode step
   *       of a Qwen2.5-0.5B-shaped model took 15-20% longer here.
   * </ul>
   */
  public static void readyThread(int threads) {
    Integer applied = READIED.get();
    if (applied != null && applied == threads) return;
    if (applied == null) ai.djl.pytorch.jni.JniUtils.setGraphExecutorOptimize(false);
    if (threads > 0 || applied != null) {
      ai.djl.pytorch.jni.JniUtils.setNumThreads(threads > 0 ? threads : Integer.getInteger("ai.djl.pytorch.num_threads", 1));
    }
    READIED.set(threads);
  }

  /** {@link #readyThread(int)} keeping the thread's intra-op count, if it was never readied. */
  static void readyThread() {
    if (READIED.get() == null) readyThread(0);
  }

  /**
   * Parses {@code cpu}, {@code gpu}, {@code gpu0}, {@code gpu1}...; a GPU must exist.
   */
  public static Device device(String name) {
    String n = name.trim().toLowerCase(java.util.Locale.ROOT);
    if (n.equals("cpu")) {
      return Device.cpu();
    }
    if (n.startsWith("gpu") || n.startsWith("cuda")) {
      String idx = n.replaceAll("^(gpu|cuda):?", "");
      int id = idx.isEmpty() ? 0 : Integer.parseInt(idx);
      int gpus = engine().getGpuCount();
      if (id >= gpus) {
        throw new IllegalArgumentException(
            "device " + name + " requested but PyTorch sees " + gpus + " GPU(s); use cpu");
      }
      return Device.gpu(id);
    }
    throw new IllegalArgumentException("unknown device " + name + " (cpu, gpu0, gpu1, ...)");
  }
}
