# %% [markdown]
# # 00 · Start here
#
# This notebook checks that the kit works on your machine and shows the cast of the
# story you will follow through the next notebooks.
#
# **How to use the notebooks.** Run cells from top to bottom (*Run → Run All Cells*
# works too). If something looks stuck, use *Kernel → Restart Kernel and Run All Cells*:
# every notebook starts its own servers, so a restart always gives a clean state.

# %%
import aauth_kit
from aauth_kit.lab import Lab

lab = Lab()
lab

# %% [markdown]
# ## The cast
#
# Four parties run inside this notebook's Python process, each a real web server on a
# loopback socket, each with the kind of name it would have on the internet:

# %%
for name, identifier in lab.identifiers.items():
    print(f"{name:16} {identifier}")
