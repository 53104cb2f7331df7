package io.tandem.ops;

import akka.actor.typed.javadsl.AskPattern;
import io.tandem.orchestrator.session.Sessions;
import io.tandem.orchestrator.session.WorkerDirectory;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.worker.WorkerProtocol;
import java.time.Duration;
import java.util.List;

/**
 * A prompt's length in tokens beside the smallest context of the models a request uses: how many
 * tokens may be generated after it, as the HTTP API caps {@code max_tokens} (vLLM's rule: prompt plus
 * output within {@code max_model_len}). The prompt is counted by the first role's worker, as the API
 * counts it.
 *
 * @param promptTokens the prompt's tokens
 * @param context the smallest context of the roles' models, in tokens
 * @param whose which model's context that is, in words: "the model's", "the large model's", "each model's"
 */
public record ContextRoom(int promptTokens, int context, String whose) {

  /** The tokens that fit after the prompt (0 or less: the prompt alone fills the context). */
  public int left() {
    return context - promptTokens;
  }

  /**
   * Counts {@code prompt} with a worker of each of {@code needed} (found through {@code node}'s
   * sessions, each ask waiting up to {@code wait}); null where a worker is not there, does not
   * answer, cannot count it, or no model gives its context: the session then says what is wrong
   * itself.
   */
  public static ContextRoom of(TandemNode node, Prompt prompt, List<Role> needed, Duration wait) throws Exception {
    int promptTokens = -1;
    int context = Integer.MAX_VALUE;
    String whose = "the model's";
    for (Role role : needed) {
      WorkerDirectory.Workers offered = AskPattern.<Sessions.Command, WorkerDirectory.Workers>ask(node.sessions(),
              reply -> new Sessions.FindWorkers(role, reply), wait, node.system().scheduler())
          .toCompletableFuture().exceptionally(t -> null).get();
      if (offered == null || offered.workers().isEmpty()) return null;
      WorkerProtocol.TokenCount count = AskPattern.<WorkerProtocol.Command, WorkerProtocol.TokenCount>ask(
              offered.workers().iterator().next(), reply -> new WorkerProtocol.CountTokens(prompt, null, null, reply, 0), wait,
              node.system().scheduler())
          .toCompletableFuture().exceptionally(t -> null).get();
      if (count == null || count.problem() != null || count.lost() != null) return null;
      if (promptTokens < 0) promptTokens = count.tokens();
      if (count.contextLength() > 0 && count.contextLength() < context) {
        whose = needed.size() > 1 ? "the " + role + " model's" : "the model's";
        context = count.contextLength();
      } else if (count.contextLength() == context && needed.size() > 1) {
        whose = "each model's";
      }
    }
    return context == Integer.MAX_VALUE ? null : new ContextRoom(promptTokens, context, whose);
  }
}
