from oversight.cli import main

main(prog_name="oversight")
