"""cvcore.models._utils: empty (meta) weights for the calling thread only."""

import threading

from torch import nn

from cvcore.models._utils import empty_weights


def test_empty_weights_are_meta_only_in_the_thread_that_asked():
    inside, outside = threading.Event(), threading.Event()
    built = {}

    def build_empty():
        with empty_weights():
            built["empty"] = nn.Linear(4, 4)
            inside.set()
            outside.wait(10)  # another thread builds while this one is still inside

    def build_real():
        inside.wait(10)
        built["real"] = nn.Linear(4, 4)
        outside.set()

    threads = [threading.Thread(target=build_empty), threading.Thread(target=build_real)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert built["empty"].weight.is_meta and not built["real"].weight.is_meta
    assert nn.Module.register_parameter.__name__ == "register_parameter"  # restored afterwards
    assert not nn.Linear(2, 2).weight.is_meta
