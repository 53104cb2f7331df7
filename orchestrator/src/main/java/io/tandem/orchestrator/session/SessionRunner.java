package io.tandem.orchestrator.session;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.Behaviors;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * Runs one session from outside the actor world (the CLI, the evaluator, tests): deltas go to a
 * callback, and the returned stage completes with the session's {@link SessionEvent.Finished} or
 * {@link SessionEvent.Failed}.
 */
public final class SessionRunner {

  public static CompletionStage<SessionEvent> run(
      ActorSystem<?> system,
      ActorRef<Sessions.Command> sessions,
      SessionRequest request,
      Consumer<SessionEvent.Delta> onDelta) {
    CompletableFuture<SessionEvent> done = new CompletableFuture<>();
    Behavior<SessionEvent> collector = Behaviors.receive(SessionEvent.class)
        .onMessage(SessionEvent.Delta.class, d -> {
          if (onDelta != null) onDelta.accept(d);
          return Behaviors.same();
        })
        .onMessage(SessionEvent.Finished.class, f -> {
          done.complete(f);
          return Behaviors.stopped();
        })
        .onMessage(SessionEvent.Failed.class, f -> {
          done.complete(f);
          return Behaviors.stopped();
        })
        .build();
    ActorRef<SessionEvent> client =
        system.systemActorOf(collector, "client-" + request.sessionId(), Props.empty());
    sessions.tell(new Sessions.Start(request, client, null));
    return done;
  }

  private SessionRunner() {}
}
