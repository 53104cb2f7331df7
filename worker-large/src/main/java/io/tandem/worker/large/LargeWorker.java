package io.tandem.worker.large;

import akka.actor.typed.Behavior;
import io.tandem.inference.LanguageModel;
import io.tandem.protocol.Role;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.worker.EngineEndpoint;
import io.tandem.worker.EngineSettings;
import io.tandem.worker.EngineSpec;
import io.tandem.worker.ModelWorker;
import io.tandem.worker.WorkerSettings;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * The large (takeover) worker: a {@link ModelWorker} of {@link Role#large} whose admission order is
 * the {@link FairQueue}. Every session's triggers come to this worker, so a tenant with many
 * sessions would fill it first come, first served; round-robin over tenants orders the takeovers,
 * verifies and recaps so that each tenant's next one waits for at most one of every other tenant's.
 * Spawn it on {@link ModelWorker#DISPATCHER}.
 */
public final class LargeWorker {

  /**
   * A large worker that opens its model with {@code model}, lets at most {@code perTenantQueueLimit}
   * requests of one tenant wait, and completes {@code loaded} with the model's name once it serves
   * (or with the error that kept it from opening).
   */
  public static Behavior<WorkerProtocol.Command> create(Supplier<LanguageModel> model, WorkerSettings settings,
      int perTenantQueueLimit, CompletableFuture<String> loaded) {
    return ModelWorker.create(
        Role.large, model, settings, () -> new FairQueue(settings.queueLimit(), perTenantQueueLimit), loaded);
  }

  /**
   * A large worker in front of the remote engine {@code spec}, with the same tenant-fair admission;
   * {@code loaded} completes once the engine model's tokenizer is loaded (see {@link EngineEndpoint}).
   */
  public static Behavior<EngineEndpoint.Message> engine(EngineSpec spec, WorkerSettings settings, int perTenantQueueLimit,
      EngineSettings engine, CompletableFuture<String> loaded) {
    return EngineEndpoint.create(
        Role.large, spec, settings, engine, () -> new FairQueue(settings.queueLimit(), perTenantQueueLimit), loaded);
  }

  private LargeWorker() {}
}
