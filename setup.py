"""Maps the repository's top-level folders into the one `gre_agent` namespace.

The repo keeps the design card's layout (agent/, tools/, graphs/, evals/, ...);
installed, each folder becomes `gre_agent.<folder>`, so no generic top-level
`tools` package lands in site-packages. Everything else lives in pyproject.toml.
"""

from setuptools import find_packages, setup

TOP_LEVEL = ("agent", "tools", "graphs", "evals", "core", "cli")

packages: list[str] = []
package_dir: dict[str, str] = {}
for top in TOP_LEVEL:
    packages.append(f"gre_agent.{top}")
    package_dir[f"gre_agent.{top}"] = top
    packages += [f"gre_agent.{top}.{sub}" for sub in find_packages(top)]

setup(packages=packages, package_dir=package_dir)
