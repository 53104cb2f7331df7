package io.tandem.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** What a client reads of a forward pass's failure: one line, not a TorchScript traceback (tester48b). */
class ModelWorkerErrorLineTest {

  @Test
  void aTorchScriptTracebackIsTheErrorItEndsWith() {
    String traceback = "The following operation failed in the TorchScript interpreter.\nTraceback of TorchScript (most recent"
        + " call last):\n  File \"code/__torch__.py\", line 12, in forward\n    x = torch.embedding(embed, ids)\n"
        + "        ~~~~~~~~~~~~~~~ <--- HERE\nRuntimeError: index out of range in self\n";
    assertEquals("RuntimeError: index out of range in self (the server log has the whole error)",
        ModelWorker.errorLine(new IllegalStateException(traceback)));
    assertEquals("out of memory", ModelWorker.errorLine(new IllegalStateException("out of memory")));
    assertEquals("NullPointerException", ModelWorker.errorLine(new NullPointerException()));
  }
}
