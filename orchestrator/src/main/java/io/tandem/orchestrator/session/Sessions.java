package io.tandem.orchestrator.session;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;

/**
 * The parent of all sessions on a node: spawns one {@link SessionActor} per request and tells the
 * caller its reference (the HTTP layer needs it to cancel when a client goes away).
 */
public final class Sessions {

  /** What the session parent can be told. */
  public interface Command {}

  /** Start a session for {@code request}; its events go to {@code client}. */
  public record Start(SessionRequest request, ActorRef<SessionEvent> client, ActorRef<Started> replyTo)
      implements Command {}

  /** The session is running. */
  public record Started(String sessionId, ActorRef<SessionActor.Command> session) {}

  public static Behavior<Command> create(ActorRef<WorkerDirectory.Command> directory, SessionSettings settings) {
    return Behaviors.setup(ctx -> Behaviors.receive(Command.class)
        .onMessage(Start.class, s -> {
          ActorRef<SessionActor.Command> session = ctx.spawnAnonymous(
              SessionActor.create(s.request(), s.client(), directory, settings));
          if (s.replyTo() != null) s.replyTo().tell(new Started(s.request().sessionId(), session));
          return Behaviors.same();
        })
        .build());
  }

  private Sessions() {}
}
