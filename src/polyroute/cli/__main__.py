from polyroute.cli import run

run()
