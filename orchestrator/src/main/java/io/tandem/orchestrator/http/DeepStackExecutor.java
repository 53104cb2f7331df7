package io.tandem.orchestrator.http;

import akka.dispatch.DispatcherPrerequisites;
import akka.dispatch.ExecutorServiceConfigurator;
import akka.dispatch.ExecutorServiceFactory;
import com.typesafe.config.Config;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An Akka executor whose threads have deep stacks, for the node's streams: akka-http 10.5.3's request
 * parser takes one more stack frame group (some 1.7 KB) for each request it finds in one read from
 * a connection, so about 600 pipelined requests in one TCP segment overflowed a default 1 MiB thread
 * stack, and Akka ended the JVM on the StackOverflowError (tester61b: 20 KB from one unauthenticated
 * connection stopped the server). A read holds at most {@code akka.io.tcp.direct-buffer-size}
 * (128 KiB): some 7,300 of the shortest requests (18 bytes, {@code GET / HTTP/1.0} and a blank line),
 * some 13 MB of stack; {@code stack-size} leaves room beyond that.
 *
 * <p>Configured as a dispatcher's {@code executor} (FQCN), with a section {@code
 * deep-stack-executor { threads, stack-size }}. A thread pool, as Akka's {@code
 * thread-pool-executor}, of {@code threads} threads: a fork-join pool cannot be given a stack size.
 * The threads keep the names, daemon flag and uncaught-exception handler of Akka's thread factory
 * (a fatal error still stops the node as Akka's {@code jvm-exit-on-fatal-error} says).
 */
public final class DeepStackExecutor extends ExecutorServiceConfigurator {
  private final int threads;
  private final long stackBytes;

  public DeepStackExecutor(Config config, DispatcherPrerequisites prerequisites) {
    super(config, prerequisites);
    Config own = config.getConfig("deep-stack-executor");
    // 0: as many as Akka's default dispatcher has (its fork-join pool: one a core, at least 8, at most 64).
    int given = own.getInt("threads");
    this.threads = given > 0 ? given : Math.min(64, Math.max(8, Runtime.getRuntime().availableProcessors()));
    this.stackBytes = own.getBytes("stack-size");
  }

  @Override
  public ExecutorServiceFactory createExecutorServiceFactory(String id, ThreadFactory akkaThreads) {
    return () -> {
      // Akka's factory names its threads and sets their handler; a thread it makes but never starts tells us both.
      Thread model = akkaThreads.newThread(() -> {});
      // Named as Akka names a dispatcher's threads (SYSTEM-DISPATCHER-N), so that those of several actor systems in one
      // JVM (simulate's nodes) are told apart (tester61f): Akka's factory gives a custom executor the system's name alone.
      String prefix = model.getName().replaceFirst("-[0-9]+$", "") + "-" + id;
      AtomicInteger made = new AtomicInteger();
      ThreadFactory deep = task -> {
        Thread t = new Thread(null, task, prefix + "-" + made.incrementAndGet(), stackBytes);
        t.setDaemon(model.isDaemon());
        t.setUncaughtExceptionHandler(model.getUncaughtExceptionHandler());
        return t;
      };
      ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
          deep);
      pool.allowCoreThreadTimeOut(true);
      return pool;
    };
  }
}
