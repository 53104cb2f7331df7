package io.tandem.worker.small;

import akka.actor.typed.Behavior;
import io.tandem.inference.LanguageModel;
import io.tandem.protocol.Role;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.worker.EngineEndpoint;
import io.tandem.worker.EngineSettings;
import io.tandem.worker.EngineSpec;
import io.tandem.worker.FifoQueue;
import io.tandem.worker.ModelWorker;
import io.tandem.worker.WorkerSettings;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * The small (drafting) worker: a {@link ModelWorker} of {@link Role#small} that admits first come,
 * first served ({@link FifoQueue}). Every session has at most one draft or look-ahead in flight, so
 * arrival order is already fair; what drafting needs is throughput, which the shared worker's
 * continuous batching gives. Spawn it on {@link ModelWorker#DISPATCHER}.
 */
public final class SmallWorker {

  /**
   * A small worker that opens its model with {@code model} and completes {@code loaded} with the
   * model's name once it serves (or with the error that kept it from opening).
   */
  public static Behavior<WorkerProtocol.Command> create(
      Supplier<LanguageModel> model, WorkerSettings settings, CompletableFuture<String> loaded) {
    return ModelWorker.create(Role.small, model, settings, () -> new FifoQueue(settings.queueLimit()), loaded);
  }

  /**
   * A small worker in front of the remote engine {@code spec}, admitting first come, first served;
   * {@code loaded} completes once the engine model's tokenizer is loaded (see {@link EngineEndpoint}).
   */
  public static Behavior<EngineEndpoint.Message> engine(
      EngineSpec spec, WorkerSettings settings, EngineSettings engine, CompletableFuture<String> loaded) {
    return EngineEndpoint.create(Role.small, spec, settings, engine, () -> new FifoQueue(settings.queueLimit()), loaded);
  }

  private SmallWorker() {}
}
