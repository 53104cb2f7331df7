package io.tandem.ops.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.DispatcherSelector;
import com.typesafe.config.ConfigFactory;
import io.tandem.inference.LanguageModel;
import io.tandem.inference.hf.HfModel;
import io.tandem.ops.demo.DemoModels;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.Token;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.protocol.worker.WorkerProtocol.Done;
import io.tandem.protocol.worker.WorkerProtocol.Generate;
import io.tandem.protocol.worker.WorkerProtocol.Limits;
import io.tandem.protocol.worker.WorkerProtocol.Reply;
import io.tandem.worker.ModelWorker;
import io.tandem.worker.WorkerSettings;
import io.tandem.worker.small.SmallWorker;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Automatic prefix caching on an in-process worker of the demo small model: a new session whose
 * prompt another session (running or released) already processed prefills only the prompt's last
 * token, reusing the rest of the KV cache, and writes exactly what it writes from scratch.
 */
class PrefixCachingTest {
  static final ActorTestKit kit = ActorTestKit.create(
      ConfigFactory.parseString("akka.actor.provider = local").withFallback(ConfigFactory.load()));
  static final Prompt PROMPT = Prompt.chat(List.of(new ChatMessage("user",
      "Please reason step by step, and put your final answer within \\boxed{}. What is 41 + 17 + 23?")));

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  static Generate gen(String session, TestProbe<Reply> p) {
    return new Generate(session, "t", 1, -1, PROMPT, List.of(), new Limits(null, 40, 40, false, List.of()),
        SamplingParams.GREEDY, false, p.getRef());
  }

  @Test
  void aPromptAnotherSessionProcessedPrefillsOnlyItsLastTokenAndWritesTheSame() {
    LanguageModel model = HfModel.load(DemoModels.dir().resolve("small"), "cpu");
    ActorRef<WorkerProtocol.Command> w = kit.spawn(SmallWorker.create(() -> model, WorkerSettings.defaults(),
        new CompletableFuture<>()), "apc", DispatcherSelector.fromConfig(ModelWorker.DISPATCHER));
    TestProbe<Reply> probe = kit.createTestProbe();
    w.tell(gen("a", probe));
    Done first = probe.expectMessageClass(Done.class, Duration.ofSeconds(30));
    assertEquals(first.promptTokens(), first.prefillTokens(), "nothing cached yet: the whole prompt");

    w.tell(gen("b", probe));
    Done second = probe.expectMessageClass(Done.class, Duration.ofSeconds(30));
    assertEquals(1, second.prefillTokens(), "session a's cache held all of the prompt but the token fed for its logits");
    assertEquals(ids(first), ids(second), "the same tokens as from scratch");

    w.tell(new WorkerProtocol.Release("a"));
    w.tell(new WorkerProtocol.Release("b"));
    w.tell(gen("c", probe));
    Done third = probe.expectMessageClass(Done.class, Duration.ofSeconds(30));
    assertEquals(1, third.prefillTokens(), "a released session's cache still serves as a prefix");
    assertEquals(ids(first), ids(third));

    TestProbe<WorkerProtocol.WorkerStats> stats = kit.createTestProbe();
    w.tell(new WorkerProtocol.GetStats(stats.getRef()));
    WorkerProtocol.WorkerStats s = stats.receiveMessage();
    assertEquals(2, s.prefixCacheHits());
    assertEquals(2L * (first.promptTokens() - 1), s.prefixCacheTokens());
  }

  static List<Integer> ids(Done d) {
    return d.generated().stream().map(Token::id).toList();
  }
}
